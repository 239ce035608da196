module cronbox/jobresult

go 1.26.0
