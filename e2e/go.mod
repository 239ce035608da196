module cronbox/e2e

go 1.26
