package herald

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

const defaultServerBin = "/work/main/build/poly/server/herald-server"

// testServer is a real herald-server on 127.0.0.1 with a temp data dir.
// Restart keeps the port and the data, which is what a client sees when its
// broker restarts.
type testServer struct {
	t       *testing.T
	bin     string
	dir     string
	port    int
	cmd     *exec.Cmd
	starts  int
	logFile *os.File
	pid     int
	exited  chan error
}

func startServer(t *testing.T) *testServer {
	t.Helper()
	bin := os.Getenv("HERALD_SERVER_BIN")
	if bin == "" {
		bin = defaultServerBin
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("herald-server binary not found at %s (set HERALD_SERVER_BIN): %v", bin, err)
	}
	dir := t.TempDir()
	log, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{t: t, bin: bin, dir: dir, logFile: log}
	s.start()
	t.Cleanup(func() {
		s.resume()
		s.stop()
		log.Close()
	})
	return s
}

func (s *testServer) target() string { return fmt.Sprintf("127.0.0.1:%d", s.port) }

func (s *testServer) start() {
	s.t.Helper()
	s.starts++
	ready := filepath.Join(s.dir, fmt.Sprintf("ready-%d.json", s.starts))
	s.cmd = exec.Command(s.bin,
		fmt.Sprintf("--listen=127.0.0.1:%d", s.port), "--metrics_listen=127.0.0.1:0",
		"--data_dir="+filepath.Join(s.dir, "data"), "--ready_file="+ready,
		"--log_level=warn", "--shutdown_grace_ms=1000")
	s.cmd.Stdout, s.cmd.Stderr = s.logFile, s.logFile
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- s.cmd.Wait() }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		data, err := os.ReadFile(ready)
		if err == nil {
			var info struct {
				GRPCPort int `json:"grpc_port"`
			}
			if err := json.Unmarshal(data, &info); err != nil {
				s.t.Fatal(err)
			}
			s.port = info.GRPCPort
			s.pid = s.cmd.Process.Pid
			s.exited = exited
			return
		}
		select {
		case err := <-exited:
			s.t.Fatalf("herald-server exited: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			s.t.Fatal("herald-server did not become ready")
		}
		time.Sleep(20 * time.Millisecond) // polling a file the server writes; no event to wait on
	}
}

func (s *testServer) stop() {
	if s.cmd == nil {
		return
	}
	_ = syscall.Kill(s.pid, syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(15 * time.Second):
		_ = syscall.Kill(s.pid, syscall.SIGKILL)
		<-s.exited
	}
	s.cmd = nil
}

func (s *testServer) restart() { s.stop(); s.start() }
func (s *testServer) pause()   { _ = syscall.Kill(s.pid, syscall.SIGSTOP) }
func (s *testServer) resume() {
	if s.cmd != nil {
		_ = syscall.Kill(s.pid, syscall.SIGCONT)
	}
}
