package gateway

// The official openai-go SDK against the whole gateway: what an application
// sees, including that a broken stream is an error and never a short
// answer.

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

func sdkClient(t *testing.T, f *fixture, opts ...option.RequestOption) openai.Client {
	srv := httptest.NewServer(f.srv)
	t.Cleanup(srv.Close)
	return openai.NewClient(append([]option.RequestOption{
		option.WithBaseURL(srv.URL + "/v1/"), option.WithAPIKey("unused"), option.WithMaxRetries(0),
	}, opts...)...)
}

func userParams(model, prompt string) openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{Model: model, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(prompt)}}
}

func TestSDKCompletion(t *testing.T) {
	f := newFixture(t, testConfig, nil)
	client := sdkClient(t, f, option.WithHeader(HeaderTrace, "1"))
	var resp *http.Response
	cc, err := client.Chat.Completions.New(context.Background(), userParams("auto", "hello"), option.WithResponseInto(&resp))
	if err != nil {
		t.Fatal(err)
	}
	if cc.Choices[0].Message.Content == "" || cc.Usage.TotalTokens == 0 || cc.Choices[0].FinishReason != "stop" {
		t.Errorf("completion = %s", cc.RawJSON())
	}
	if ext, ok := cc.JSON.ExtraFields["sextant"]; !ok || !strings.Contains(ext.Raw(), `"request_id"`) {
		t.Errorf("the SDK does not see the sextant member: %s", cc.RawJSON())
	}
	if resp.Header.Get(HeaderModel) != "small" {
		t.Errorf("%s = %q", HeaderModel, resp.Header.Get(HeaderModel))
	}
}

func TestSDKStream(t *testing.T) {
	f := newFixture(t, testConfig, nil)
	client := sdkClient(t, f, option.WithHeader(HeaderTrace, "1"))
	params := userParams("small", "hello")
	params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	stream := client.Chat.Completions.NewStreaming(context.Background(), params)
	var acc openai.ChatCompletionAccumulator
	for stream.Next() {
		if !acc.AddChunk(stream.Current()) {
			t.Fatalf("accumulator rejected %s", stream.Current().RawJSON())
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	cc := acc.ChatCompletion
	if len(cc.Choices) != 1 || cc.Choices[0].Message.Content == "" || cc.Choices[0].FinishReason != "stop" || cc.Usage.TotalTokens == 0 {
		t.Errorf("accumulated %+v", cc)
	}
}

func TestSDKBrokenStreamIsAnError(t *testing.T) {
	f := newFixture(t, testConfig, nil)
	client := sdkClient(t, f)
	stream := client.Chat.Completions.NewStreaming(context.Background(), userParams("broken", "hello"))
	for stream.Next() {
	}
	if stream.Err() == nil {
		t.Fatal("a broken stream read as a finished one")
	}
}

func TestSDKErrors(t *testing.T) {
	for _, tt := range []struct {
		name   string
		cfg    string
		env    map[string]string
		model  string
		status int
		typ    string
	}{
		{"unknown model", testConfig, nil, "nope", 404, "not_found_error"},
		{"bad key", authConfig, authEnv, "small", 401, "authentication_error"},
		{"upstream down", testConfig, nil, "down", 0, "upstream_error"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			client := sdkClient(t, newFixture(t, tt.cfg, tt.env))
			_, err := client.Chat.Completions.New(context.Background(), userParams(tt.model, "hi"))
			var apiErr *openai.Error
			if !errors.As(err, &apiErr) {
				t.Fatalf("error = %v (%T)", err, err)
			}
			if (tt.status != 0 && apiErr.StatusCode != tt.status) || apiErr.Type != tt.typ || apiErr.Message == "" {
				t.Errorf("SDK error: status %d type %q message %q", apiErr.StatusCode, apiErr.Type, apiErr.Message)
			}
		})
	}
}
