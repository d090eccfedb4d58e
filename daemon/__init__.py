"""The long-running djml process: watches folders, queues and analyses files in a process
pool, is the only writer of the library while it runs, and serves clients (TUI, CLI) over
a Unix socket. Entry points: :mod:`djml.daemon.main` (`djml daemon run|start|stop|status`).
"""
