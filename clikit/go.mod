module cronbox/clikit

go 1.26.0
