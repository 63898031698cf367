module github.com/golem-llm/golem

go 1.26
