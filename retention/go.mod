module cronbox/retention

go 1.26.0
