"""Settings, index template and Kibana objects of newsetl (data files next to this module)."""

from newsetl.config.settings import Settings, load_settings

__all__ = ["Settings", "load_settings"]
