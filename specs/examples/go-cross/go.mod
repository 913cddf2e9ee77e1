module example.com/whereami

go 1.19
