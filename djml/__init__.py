"""djml: local-first machine learning for a DJ's and a producer's own music."""

import functools


@functools.cache
def version() -> str:
    """The installed djml version (importlib.metadata is loaded only when asked)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as package_version

    try:
        return package_version("djml")
    except PackageNotFoundError:
        return "unknown"
