module cronbox/envplate

go 1.26.0

require github.com/a8m/envsubst v1.4.3
