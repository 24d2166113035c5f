package gate

import "github.com/sextant-router/sextant/internal/llm"

// Strip returns resp as the client asked for it in client: only the
// first n choices (the client's n, default 1), and log-probabilities only
// when the client asked for them, cut to its top_logprobs. It returns
// resp itself when nothing needs removing, else a copy; resp is never
// changed. Usage is left as it is: the extra tokens were paid for.
func Strip(client *llm.Request, resp *llm.Response) *llm.Response {
	if resp == nil || client == nil {
		return resp
	}
	n, lp, top := wants(client)
	need := len(resp.Choices) > n
	for i := range resp.Choices[:min(n, len(resp.Choices))] {
		need = need || excess(resp.Choices[i].Logprobs, lp, top)
	}
	if !need {
		return resp
	}
	out := *resp
	out.Choices = make([]llm.Choice, min(n, len(resp.Choices)))
	copy(out.Choices, resp.Choices)
	for i := range out.Choices {
		out.Choices[i].Logprobs = trimLogprobs(out.Choices[i].Logprobs, lp, top)
	}
	return &out
}

// StripChunk is Strip for one chunk of a stream: choices with an index
// past the client's n are dropped and log-probabilities removed or cut.
// It returns ch itself when nothing needs removing, else a copy.
func StripChunk(client *llm.Request, ch *llm.Chunk) *llm.Chunk {
	if ch == nil || client == nil {
		return ch
	}
	n, lp, top := wants(client)
	need := false
	for _, c := range ch.Choices {
		need = need || c.Index >= n || excess(c.Logprobs, lp, top)
	}
	if !need {
		return ch
	}
	out := *ch
	out.Choices = make([]llm.ChunkChoice, 0, len(ch.Choices))
	for _, c := range ch.Choices {
		if c.Index >= n {
			continue
		}
		c.Logprobs = trimLogprobs(c.Logprobs, lp, top)
		out.Choices = append(out.Choices, c)
	}
	return &out
}

func wants(client *llm.Request) (n int, logprobs bool, top int) {
	n = 1
	if client.N != nil && *client.N > 1 {
		n = *client.N
	}
	if client.TopLogprobs != nil {
		top = max(*client.TopLogprobs, 0)
	}
	return n, client.Logprobs, top
}

func excess(l *llm.Logprobs, want bool, top int) bool {
	if l == nil {
		return false
	}
	if !want {
		return true
	}
	for _, t := range l.Content {
		if len(t.TopLogprobs) > top {
			return true
		}
	}
	for _, t := range l.Refusal {
		if len(t.TopLogprobs) > top {
			return true
		}
	}
	return false
}

func trimLogprobs(l *llm.Logprobs, want bool, top int) *llm.Logprobs {
	if l == nil || !want {
		return nil
	}
	if !excess(l, want, top) {
		return l
	}
	cut := func(ts []llm.TokenLogprob) []llm.TokenLogprob {
		if ts == nil {
			return nil
		}
		out := make([]llm.TokenLogprob, len(ts))
		copy(out, ts)
		for i := range out {
			if len(out[i].TopLogprobs) > top {
				out[i].TopLogprobs = out[i].TopLogprobs[:top:top]
			}
		}
		return out
	}
	return &llm.Logprobs{Content: cut(l.Content), Refusal: cut(l.Refusal)}
}
