"""The course's maintainer tools, always imported as ``tools.<module>`` (Sphinx loads its
extensions the same way: ``_config.yml``), so no file can load as two modules."""
