module cronbox/envplate

go 1.26
