module netsuitetest

go 1.19
