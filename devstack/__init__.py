"""The local stack: moto's server as the embedded AWS, Chalice's local server, and the workers."""
