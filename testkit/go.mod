module cronbox/testkit

go 1.26
