module cronbox/multicall

go 1.26
