"""Every read and write of minertrace's tables: the only SQL outside `minertrace.db`."""

__all__: list[str] = []
