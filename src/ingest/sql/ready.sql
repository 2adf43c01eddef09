-- The readiness probe's question to Postgres: does it answer a query? No parameters.
SELECT 1
