"""Writers from the stream to ClickHouse: schema migrations, row mapping and the batched sink."""
