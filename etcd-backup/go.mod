module cronbox/etcd-backup

go 1.26
