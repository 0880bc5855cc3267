"""The contract of every Kafka message: typed, versioned msgspec Structs (docs/events.md).

Pure: imports msgspec and the standard library only, so every service (and any
downstream consumer) can share it without sharing a service's code.
"""
