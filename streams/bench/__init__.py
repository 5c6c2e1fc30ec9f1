"""``crossrec bench``: throughput and latency of a real worker against a bare Kafka loop.

The benchmark runs the real thing — a Kafka broker, ClickHouse, and ``crossrec worker`` as a
subprocess on isolated topics — and measures it with the same instruments it uses on a bare
aiokafka consume→produce loop, so the ratio between the two says how much of the machine's
Kafka ceiling the worker's processing costs. Entry point: :mod:`streams.bench.command`.
"""
