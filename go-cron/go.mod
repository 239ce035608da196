module cronbox/go-cron

go 1.26
