"""Thin Prefect tasks around `zeroxqa` functions, cached by content hashes of their input artifacts."""
