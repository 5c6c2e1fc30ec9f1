"""``crossrec bench``: throughput and latency of a real worker against two forwarding loops.

The benchmark runs the real thing — a Kafka broker, ClickHouse, and ``crossrec worker`` as a
subprocess on isolated topics — and measures it with the same instruments it uses on a bare
aiokafka consume→produce loop and on a one-agent Faust forwarder with the worker's Faust
settings (the "Faust floor"). Against the bare loop, the ratio says how much of the machine's
Kafka ceiling the worker reaches; against the Faust floor, how much of the gap is crossrec's
own work rather than Faust's per-message machinery. Entry point: :mod:`streams.bench.command`.
"""
