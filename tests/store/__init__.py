"""Contract tests of the object store, run against every backend."""
