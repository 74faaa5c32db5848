// Command inventory reserves stock for every placed order. Run several
// instances with the same group: the broker splits the partitions of "orders"
// between them and moves a dead instance's partitions to the survivors.
//
//	HERALD_BROKERS=127.0.0.1:7420 go run . -name inventory-1 -out inventory-1.txt
//
// Each order is processed (logged, its id appended to -out), then the
// positions are committed, so a crash re-delivers at most the uncommitted
// tail to the next owner (at-least-once). Runs until SIGINT/SIGTERM.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	herald "github.com/herald-streaming/herald/clients/go"
)

type orderPlaced struct {
	OrderID string `json:"order_id"`
	Items   []struct {
		SKU      string `json:"sku"`
		Quantity int    `json:"quantity"`
	} `json:"items"`
}

func main() {
	name := flag.String("name", "inventory", "instance name used in the log")
	out := flag.String("out", os.Getenv("OUTPUT_FILE"), "file the processed order ids are appended to (default $OUTPUT_FILE)")
	group := flag.String("group", "inventory", "consumer group")
	delay := flag.Duration("work", 0, "simulated work per order, e.g. 5ms")
	flag.Parse()
	log.SetFlags(log.Lmicroseconds)
	log.SetPrefix(*name + " ")

	brokers := os.Getenv("HERALD_BROKERS")
	if brokers == "" {
		brokers = "127.0.0.1:7420"
	}
	var sink *os.File
	if *out != "" {
		f, err := os.OpenFile(*out, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			log.Fatalf("open %s: %v", *out, err)
		}
		defer f.Close()
		sink = f
	}

	c, err := herald.NewConsumer(brokers, herald.ConsumerOptions{
		Group:    *group,
		ClientID: *name,
		// The complete owned set after every rebalance (the e2e test reads these lines).
		OnAssign: func(tps []herald.TopicPartition) { log.Printf("assigned partitions [%s]", partitionList(tps)) },
		OnRevoke: func(tps []herald.TopicPartition) { log.Printf("revoked partitions [%s]", partitionList(tps)) },
	})
	if err != nil {
		log.Fatalf("consumer: %v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := c.Subscribe(ctx, []string{"orders"}, herald.Earliest(), true); err != nil {
		log.Fatalf("subscribe: %v", err)
	}

	processed := 0
	for ctx.Err() == nil {
		// Small polls: a commit every <= 20 orders bounds what a crash re-delivers.
		records, err := c.Poll(ctx, 20)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			log.Fatalf("poll: %v", err)
		}
		for _, r := range records {
			var o orderPlaced
			if err := json.Unmarshal(r.Value, &o); err != nil {
				log.Printf("skipping malformed event at %d/%d: %v", r.Partition, r.Offset, err)
				continue
			}
			time.Sleep(*delay)
			log.Printf("reserved stock for %s (%d item lines) partition=%d offset=%d", o.OrderID, len(o.Items), r.Partition, r.Offset)
			if sink != nil {
				// One write(2) per order: unbuffered, so it survives a SIGKILL.
				if _, err := fmt.Fprintln(sink, o.OrderID); err != nil {
					log.Fatalf("write %s: %v", *out, err)
				}
			}
			processed++
		}
		if len(records) > 0 {
			// Commit after processing: the positions now point past the records handled above.
			if err := c.Commit(ctx, nil); err != nil && ctx.Err() == nil {
				// ABORTED: a rebalance moved a partition away meanwhile; its next owner
				// re-reads from the last successful commit (at-least-once).
				log.Printf("commit: %v", err)
			}
		}
	}
	// Close commits the owned partitions and leaves the group at once.
	if err := c.Close(); err != nil {
		log.Printf("close: %v", err)
	}
	log.Printf("stopped after %d orders", processed)
}

func partitionList(tps []herald.TopicPartition) string {
	parts := make([]string, 0, len(tps))
	sort.Slice(tps, func(i, j int) bool { return tps[i].Partition < tps[j].Partition })
	for _, tp := range tps {
		parts = append(parts, fmt.Sprintf("%s-%d", tp.Topic, tp.Partition))
	}
	return strings.Join(parts, ",")
}
