module example.com/joules/items

go 1.19
