"""The final HTML report: gathers the small summaries the stages wrote and renders one page."""
