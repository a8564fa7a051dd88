module example.com/helloserver

go 1.24
