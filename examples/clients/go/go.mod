module joules.example/clients

go 1.19
