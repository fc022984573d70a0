"""Interfaces (typing.Protocol) between the use cases and the outside world, with their errors."""
