"""The command line. ``main.py`` holds the group; each command lives in its own module,
registered by name in ``main.COMMANDS`` and imported only when it runs."""
