"""`python -m djml.daemon`: the background daemon entry point used by `djml daemon start`."""

from djml.daemon.main import main

main()
