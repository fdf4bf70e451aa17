"""Where the star schema is built: the embedded/any PostgreSQL, or Amazon Redshift."""
