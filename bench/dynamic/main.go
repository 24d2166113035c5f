// Command dynamic measures how fast Sextant's balance route shifts traffic
// away from a model whose latency rises, how much it still sends there,
// and how fast the model gets its share back once it heals.
//
// It starts -replicas `sextant serve` processes on examples/dynamic.yaml
// (each with its own copy of the config and decision log), drives the
// route at -rps requests per second, open loop, spread round-robin over the
// replicas, and edits every replica's config at run time: after -warm the
// model -model gets -factor times its TTFT and 1/-factor its decoding speed,
// after -degraded more it gets its old values back. Sextant reloads the file
// on save. With -redis ADDR the replicas share state through that Redis
// (a state block is added to their config).
//
// It prints, from the answering model of every request by the second it
// was sent: the model's share before, the seconds after the change until
// its share stays below half of that, its share over the last half of the
// degraded phase, and the seconds after healing until it is back at half
// its old share; and writes every request to -out as JSON lines.
//
//	go build -o /tmp/sextant ./cmd/sextant
//	go run ./bench/dynamic -sextant /tmp/sextant -rps 100 -replicas 1
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

type record struct {
	SentS     float64 `json:"sent_s"`
	Replica   int     `json:"replica"`
	Status    int     `json:"status"`
	Model     string  `json:"model"`
	LatencyMS float64 `json:"latency_ms"`
}

func main() {
	bin := flag.String("sextant", "", "sextant binary (required)")
	cfgPath := flag.String("config", "examples/dynamic.yaml", "config to serve")
	route := flag.String("route", "balance", "route to drive")
	model := flag.String("model", "fast-a", "model to degrade")
	factor := flag.Float64("factor", 5, "latency multiplier while degraded")
	rps := flag.Float64("rps", 100, "requests per second, all replicas together")
	replicas := flag.Int("replicas", 1, "sextant processes")
	redisAddr := flag.String("redis", "", "Redis address shared by the replicas (adds state: {redis: {addr}})")
	warm := flag.Duration("warm", 15*time.Second, "time before degrading")
	degraded := flag.Duration("degraded", 25*time.Second, "time degraded")
	healed := flag.Duration("healed", 30*time.Second, "time after healing")
	out := flag.String("out", "", "write every request as JSON lines here")
	flag.Parse()
	if *bin == "" {
		fmt.Fprintln(os.Stderr, "dynamic: -sextant is required")
		os.Exit(2)
	}
	if err := run(*bin, *cfgPath, *route, *model, *factor, *rps, *replicas, *redisAddr, *warm, *degraded, *healed, *out); err != nil {
		fmt.Fprintln(os.Stderr, "dynamic:", err)
		os.Exit(1)
	}
}

type replica struct {
	dir, cfg, addr string
	cmd            *exec.Cmd
	log            *os.File
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// modelBlock finds the options line of model name in the config.
func optionsLine(cfg, name string) (start, end int, line string, err error) {
	i := strings.Index(cfg, "- name: "+name+"\n")
	if i < 0 {
		return 0, 0, "", fmt.Errorf("model %s not in config", name)
	}
	j := strings.Index(cfg[i:], "options: {")
	if j < 0 {
		return 0, 0, "", fmt.Errorf("model %s has no one-line options", name)
	}
	start = i + j
	end = start + strings.IndexByte(cfg[start:], '\n')
	return start, end, cfg[start:end], nil
}

var (
	durRe = regexp.MustCompile(`(p50|p99): ([0-9.]+)(ms|s)`)
	tpsRe = regexp.MustCompile(`tokens_per_second: ([0-9.]+)`)
)

// degrade multiplies the durations in line by f and divides the decoding
// rate by f.
func degrade(line string, f float64) string {
	line = durRe.ReplaceAllStringFunc(line, func(m string) string {
		p := durRe.FindStringSubmatch(m)
		v, _ := strconv.ParseFloat(p[2], 64)
		return fmt.Sprintf("%s: %g%s", p[1], v*f, p[3])
	})
	return tpsRe.ReplaceAllStringFunc(line, func(m string) string {
		v, _ := strconv.ParseFloat(tpsRe.FindStringSubmatch(m)[1], 64)
		return fmt.Sprintf("tokens_per_second: %g", v/f)
	})
}

func run(bin, cfgPath, route, model string, factor, rps float64, n int, redisAddr string,
	warm, degradedFor, healedFor time.Duration, outPath string) error {
	raw, err := os.ReadFile(cfgPath)
	if err != nil {
		return err
	}
	cfg := string(raw)
	if redisAddr != "" {
		cfg += fmt.Sprintf("\nstate:\n  redis: {addr: %q}\n", redisAddr)
	}
	s, e, line, err := optionsLine(cfg, model)
	if err != nil {
		return err
	}
	bad := cfg[:s] + degrade(line, factor) + cfg[e:]
	tmp, err := os.MkdirTemp("", "sextant-dynamic-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	env := append(os.Environ(), "SEXTANT_FREE_KEY=bench-free", "SEXTANT_PREMIUM_KEY=bench-premium")
	var reps []*replica
	defer func() {
		for _, r := range reps {
			if r.cmd.Process != nil {
				_ = r.cmd.Process.Signal(os.Interrupt)
				done := make(chan struct{})
				go func() { _ = r.cmd.Wait(); close(done) }()
				select {
				case <-done:
				case <-time.After(10 * time.Second):
					_ = r.cmd.Process.Kill()
					<-done
				}
			}
			r.log.Close()
		}
	}()
	for i := 0; i < n; i++ {
		r := &replica{dir: filepath.Join(tmp, fmt.Sprintf("r%d", i))}
		if err := os.MkdirAll(r.dir, 0o755); err != nil {
			return err
		}
		r.cfg = filepath.Join(r.dir, "dynamic.yaml")
		if err := os.WriteFile(r.cfg, []byte(cfg), 0o644); err != nil {
			return err
		}
		if r.addr, err = freeAddr(); err != nil {
			return err
		}
		if r.log, err = os.Create(filepath.Join(r.dir, "sextant.log")); err != nil {
			return err
		}
		r.cmd = exec.Command(bin, "serve", "--config", r.cfg, "--addr", r.addr)
		r.cmd.Dir, r.cmd.Env, r.cmd.Stdout, r.cmd.Stderr = r.dir, env, r.log, r.log
		if err := r.cmd.Start(); err != nil {
			return err
		}
		reps = append(reps, r)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: 4096, MaxIdleConnsPerHost: 2048}, Timeout: 60 * time.Second}
	for _, r := range reps {
		if err := waitReady(client, r); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "%d replica(s) ready; %v warm, %v with %s %gx slower, %v healed, %g RPS on route %s\n",
		n, warm, degradedFor, model, factor, healedFor, rps, route)

	total := warm + degradedFor + healedFor
	start := time.Now()
	var mu sync.Mutex
	var recs []record
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(context.Background(), total+70*time.Second)
	defer cancel()
	phase := 0
	interval := time.Duration(float64(time.Second) / rps)
	for i := 0; ; i++ {
		at := start.Add(time.Duration(i) * interval)
		el := at.Sub(start)
		if el >= total {
			break
		}
		if phase == 0 && el >= warm {
			phase = 1
			if err := writeAll(reps, bad); err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "t=%.1fs degraded %s\n", time.Since(start).Seconds(), model)
		}
		if phase == 1 && el >= warm+degradedFor {
			phase = 2
			if err := writeAll(reps, cfg); err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "t=%.1fs healed %s\n", time.Since(start).Seconds(), model)
		}
		time.Sleep(time.Until(at))
		r := reps[i%n]
		wg.Add(1)
		go func(i int, r *replica, ri int) {
			defer wg.Done()
			rec := send(ctx, client, r, route, i)
			rec.Replica = ri
			rec.SentS = at.Sub(start).Seconds()
			mu.Lock()
			recs = append(recs, rec)
			mu.Unlock()
		}(i, r, i%n)
	}
	wg.Wait()
	if outPath != "" {
		var b bytes.Buffer
		for _, r := range recs {
			j, _ := json.Marshal(r)
			b.Write(j)
			b.WriteByte('\n')
		}
		if err := os.WriteFile(outPath, b.Bytes(), 0o644); err != nil {
			return err
		}
	}
	report(os.Stdout, recs, model, warm.Seconds(), (warm + degradedFor).Seconds(), total.Seconds())
	return nil
}

func writeAll(reps []*replica, cfg string) error {
	for _, r := range reps {
		// Write a temporary file and rename it, as editors do, so a
		// reload never reads a half-written file.
		t := r.cfg + ".tmp"
		if err := os.WriteFile(t, []byte(cfg), 0o644); err != nil {
			return err
		}
		if err := os.Rename(t, r.cfg); err != nil {
			return err
		}
	}
	return nil
}

func waitReady(c *http.Client, r *replica) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := c.Get("http://" + r.addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		if r.cmd.ProcessState != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	b, _ := os.ReadFile(filepath.Join(r.dir, "sextant.log"))
	return fmt.Errorf("replica at %s never became ready:\n%s", r.addr, b)
}

func send(ctx context.Context, c *http.Client, r *replica, route string, i int) record {
	body := fmt.Sprintf(`{"model":%q,"messages":[{"role":"user","content":"question %d: how far is the horizon?"}]}`, route, i)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+r.addr+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer bench-free")
	t0 := time.Now()
	resp, err := c.Do(req)
	rec := record{}
	if err != nil {
		rec.Status = -1
		return rec
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	rec.LatencyMS = float64(time.Since(t0)) / 1e6
	rec.Status = resp.StatusCode
	rec.Model = resp.Header.Get("X-Sextant-Model")
	return rec
}

// report prints the shift measurements from recs bucketed by the second
// they were sent.
func report(w io.Writer, recs []record, model string, tDegrade, tHeal, tEnd float64) {
	secs := int(tEnd) + 1
	all := make([]float64, secs)
	hit := make([]float64, secs)
	var errs int
	lat := map[int][]float64{}
	for _, r := range recs {
		s := int(r.SentS)
		if r.Status != 200 {
			errs++
			continue
		}
		all[s]++
		if r.Model == model {
			hit[s]++
		}
		ph := 0
		if r.SentS >= tHeal {
			ph = 2
		} else if r.SentS >= tDegrade {
			ph = 1
		}
		lat[ph] = append(lat[ph], r.LatencyMS)
	}
	shareOver := func(a, b int) float64 {
		var h, t float64
		for s := max(a, 0); s < min(b, secs); s++ {
			h += hit[s]
			t += all[s]
		}
		if t == 0 {
			return 0
		}
		return h / t
	}
	d, hl := int(tDegrade), int(tHeal)
	base := shareOver(d-10, d)
	// Shift: the first second after the change from which every second
	// of the degraded phase gives the model under half its old share.
	shift := -1
	for s := d; s < hl; s++ {
		ok := true
		for u := s; u < hl; u++ {
			if all[u] > 0 && hit[u]/all[u] >= base/2 {
				ok = false
				break
			}
		}
		if ok {
			shift = s - d + 1
			break
		}
	}
	still := shareOver(d+(hl-d)/2, hl)
	back := -1
	for s := hl; s+2 < secs; s++ {
		if shareOver(s, s+3) >= base/2 {
			back = s - hl + 3
			break
		}
	}
	after := shareOver(secs-10, secs)
	fmt.Fprintf(w, "requests %d, non-200 %d\n", len(recs), errs)
	fmt.Fprintf(w, "share of %s before: %.3f\n", model, base)
	if shift >= 0 {
		fmt.Fprintf(w, "seconds until its share stays below half: %d (bucket resolution 1s, config reload included)\n", shift)
	} else {
		fmt.Fprintf(w, "its share never stayed below half while degraded\n")
	}
	fmt.Fprintf(w, "share while degraded (last half of the phase): %.3f\n", still)
	if back >= 0 {
		fmt.Fprintf(w, "seconds after healing until back at half its old share (3s window): %d\n", back)
	} else {
		fmt.Fprintf(w, "it did not get back to half its old share\n")
	}
	fmt.Fprintf(w, "share over the last 10s: %.3f\n", after)
	for ph, name := range []string{"warm", "degraded", "healed"} {
		v := lat[ph]
		sort.Float64s(v)
		if len(v) > 0 {
			fmt.Fprintf(w, "latency %-8s p50 %6.0f ms  p95 %6.0f ms  (n=%d)\n", name, v[len(v)/2], v[len(v)*95/100], len(v))
		}
	}
	fmt.Fprintf(w, "per-second share of %s:", model)
	for s := 0; s < secs; s++ {
		if s%10 == 0 {
			fmt.Fprintf(w, "\n  t=%3ds", s)
		}
		if all[s] == 0 {
			fmt.Fprintf(w, "    - ")
		} else {
			fmt.Fprintf(w, " %5.2f", hit[s]/all[s])
		}
	}
	fmt.Fprintln(w)
}
