"""What every room stands on: the database, languages, text rules and the files that ship."""
