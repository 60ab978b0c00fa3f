"""The fault model in one place: tests that break things on purpose (secrets, TLS, signals,
atomic files, exit statuses). The README's Safety section lists what each one guarantees."""
