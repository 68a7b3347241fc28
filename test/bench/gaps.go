package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"time"

	"go.temporal.io/sdk/client"
)

// historyGaps prints, for each pair of consecutive event types in the
// histories of ids, the median and p95 time between them. It shows where
// a step's time goes (a queue read, a poll, the worker) without a
// profiler: a gap the server spends waiting stands out next to the ones
// it spends working.
func historyGaps(ctx context.Context, c client.Client, ids []string, out io.Writer) error {
	gaps := map[string][]time.Duration{}
	var order []string
	for _, id := range ids {
		it := c.GetWorkflowHistory(ctx, id, "", false, 0)
		var prev time.Time
		var prevType string
		for it.HasNext() {
			e, err := it.Next()
			if err != nil {
				return fmt.Errorf("history of %s: %w", id, err)
			}
			t := e.GetEventTime().AsTime()
			typ := e.GetEventType().String()
			if prevType != "" {
				k := prevType + " → " + typ
				if _, ok := gaps[k]; !ok {
					order = append(order, k)
				}
				gaps[k] = append(gaps[k], t.Sub(prev))
			}
			prev, prevType = t, typ
		}
	}
	sort.SliceStable(order, func(i, j int) bool { return pct(gaps[order[i]], 50) > pct(gaps[order[j]], 50) })
	fmt.Fprintf(out, "history event gaps over %d workflows (median, p95, count):\n", len(ids))
	for _, k := range order {
		fmt.Fprintf(out, "  %-90s %8s %8s %5d\n", k, ms(pct(gaps[k], 50)), ms(pct(gaps[k], 95)), len(gaps[k]))
	}
	return nil
}
