module github.com/rampart-gw/rampart

go 1.26.8

require go.yaml.in/yaml/v4 v4.0.0

require github.com/google/go-cmp v0.7.0 // indirect
