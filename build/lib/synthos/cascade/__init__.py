"""Cascade: tier plan, jobs, sweep aggregation and the loss-law prediction (DESIGN section 5).

Import the modules themselves (`synthos.cascade.prediction`, `...aggregate`, ...): the
package imports nothing, so a job does not pay for the prediction's scientific stack.
"""
