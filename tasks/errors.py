"""Errors that stop a run: terminal ones are reported, transient ones retried on the next run."""


class NewsetlError(Exception):
    """A run cannot go on; the message is the one-line reason shown to the user."""


class ConfigurationError(NewsetlError):
    """A setting, credential or missing tool prevents the run (fix, then rerun)."""


class TransientError(NewsetlError):
    """A service is unavailable or overloaded; retrying later can succeed."""


class ElasticsearchUnavailable(TransientError):
    """Elasticsearch did not answer after the configured retries."""


class LocalNodeError(NewsetlError):
    """The local Elasticsearch node could not be built, started or stopped."""


class WritesRefused(NewsetlError):
    """The cluster refuses writes (a write or disk block, missing rights): someone must act first."""
