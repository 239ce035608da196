module cronbox/es-snapshot

go 1.26
