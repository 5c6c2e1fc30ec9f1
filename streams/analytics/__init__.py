"""Analytics on ClickHouse: settings the views read, the A/B statistics and ``crossrec report``.

- :mod:`streams.analytics.setup` — apply the migrations and store the analytics settings;
- :mod:`streams.analytics.stats` — two-proportion z-test, Wilson and Wald intervals;
- :mod:`streams.analytics.queries` — read the A/B, funnel and timeline views;
- :mod:`streams.analytics.report` — the ``crossrec report`` engine (tables, CSV, JSON);
- :mod:`streams.analytics.chart` — a self-contained HTML/SVG chart over time.

The views themselves are SQL, in ``deploy/clickhouse/migrations`` (0005 exact, 0006 the
privacy-safe analyst layer); :mod:`streams.sinks.access` creates the analyst.
"""
