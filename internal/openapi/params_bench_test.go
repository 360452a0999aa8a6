package openapi

import "testing"

// BenchmarkValidateStyles measures the readers of Stripe-shaped requests:
// a deepObject form body and a deepObject query.
func BenchmarkValidateStyles(b *testing.B) {
	b.Run("stripe-form-deepObject", func(b *testing.B) {
		benchRequest(b, "testdata/styles-3.0.yaml", "POST", "/v1/customers", "", "application/x-www-form-urlencoded",
			[]byte("email=a%40example.com&balance=-5&address%5Bline1%5D=1+Main+St&address%5Bcity%5D=Utrecht&expand%5B0%5D=default_source"+
				"&expand%5B1%5D=tax_ids&metadata%5Border_id%5D=6735&items%5B0%5D%5Bprice%5D=price_1&items%5B0%5D%5Bquantity%5D=2"))
	})
	b.Run("stripe-query-deepObject", func(b *testing.B) {
		benchRequest(b, "testdata/styles-3.0.yaml", "GET", "/v1/charges", "?created%5Bgte%5D=1700000000&created%5Blt%5D=1800000000&expand%5B0%5D=data.customer&limit=3", "", nil)
	})
}
