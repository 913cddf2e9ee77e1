module example.com/multi-output

go 1.19
