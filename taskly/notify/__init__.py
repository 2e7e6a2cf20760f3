"""Notifications beyond email (issue #12): Apprise services (``apprise``), their sealed URLs
(``sealed``), and the notify/VAPID settings (``config``)."""
