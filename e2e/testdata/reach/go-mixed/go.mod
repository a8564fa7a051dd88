module example.com/gomixed

go 1.24
