module cronbox/gof3r

go 1.26
