"""Settings from the environment, the connection registry, gunicorn configuration."""
