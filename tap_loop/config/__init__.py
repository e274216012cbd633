"""The settings: how each is declared, loaded from the config and checked, as one
frozen :class:`~tap_loop.config.settings.Settings`, and the :class:`~tap_loop.config.settings.Run`
they belong to.

May import: core.
"""
