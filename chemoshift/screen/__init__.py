"""Screens beyond one machine: a dose-response fit sharded by drug (or a column the user
names), each shard the same hierarchical model on its own curves, fitted on Dask workers
(:mod:`.shards` plans and reads them, :mod:`.engine` runs them, :mod:`.pool` combines
what the shards share, :mod:`.run` writes the run directory)."""
